// Package users keeps tenantkit's global users and their login sessions in
// the shared schema.
//
// # Users
//
// A user's email is its username: it is normalised (spaces trimmed, domain
// lower-cased) and unique whatever its case. Passwords are hashed with
// argon2id; the parameters are stored with each hash and an older hash is
// upgraded at the next successful login. Authenticate spends the same
// hashing work on an unknown email as on a known one and answers
// ErrInvalidCredentials for every failure, so it cannot be used to find
// out which emails exist.
//
// Users are deleted softly (DeactivateTx; tenancy.Manager.DeleteUser does the
// whole job): the row stays, marked inactive and deleted, and its sessions
// are revoked.
//
// # Sessions
//
// NewSession returns a random 256-bit token for the client; only its
// SHA-256 is stored, so a leaked sessions table holds no usable token.
// SessionUser answers only for a live session of an active user.
package users
