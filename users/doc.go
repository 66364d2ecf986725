// Package users keeps tenantkit's global users and their login sessions in
// the shared schema.
//
// # Users
//
// A user's email is its username: it is normalised (spaces trimmed, domain
// lower-cased) and unique whatever its case. Users are deleted softly
// (DeactivateTx; tenancy.Manager.DeleteUser does the whole job): the row
// stays, marked inactive and deleted, and its sessions are revoked.
//
// # Passwords
//
// Passwords are hashed with argon2id (DefaultArgon2Params: 19 MiB, 2
// passes, 1 lane, OWASP's recommendation); the parameters are stored with
// each hash in the PHC format, and a hash made with other parameters is
// re-hashed at the next successful login. Django's hashes are verified as
// they are, so a team moving from django-tenant-users keeps its users, and
// are replaced by argon2id at each user's first successful login:
// pbkdf2_sha256 (Django's default), pbkdf2_sha1, and Argon2PasswordHasher's
// "argon2$argon2id$..." and "argon2$argon2i$...". Copy Django's
// auth_user.password column into tenantkit_users.password_hash unchanged.
//
// # Logging in
//
// Authenticate answers ErrInvalidCredentials for an unknown email, a wrong
// password, an inactive or deleted user and a user without a password
// alike, after the same work: an unknown email is checked against a dummy
// hash made with the store's parameters. Measured on the 2-core CI machine
// under load (BenchmarkLogin/interleaved, production parameters, the two
// cases alternated, three runs of 40):
//
//	unknown email   25.3  26.1  37.3 ms
//	wrong password  24.2  26.3  35.6 ms
//	ratio           1.05  0.99  1.05
//
// and TestFailedLoginTimingDoesNotRevealTheEmail checks on every run that
// the fastest of 15 interleaved tries of each stay within a factor of
// three (skipping the hash would make an unknown email about fifty times
// faster; the minimum, unlike the median, is not moved by load from other
// processes). A user whose stored hash
// has other parameters, or is one of Django's, takes the time of that
// hash, which tells only that the account is old.
//
// Login is Authenticate for login forms: it also throttles attempts per
// account and per client address (LoginThrottle; counters in PostgreSQL,
// shared by every process) and answers *ThrottledError (ErrThrottled)
// without checking the password once a limit is reached. The throttle
// treats an unknown email exactly like a known one.
//
// # Sessions
//
// NewSession returns a random 256-bit token for the client; only its
// SHA-256 is stored, so a leaked sessions table holds no usable token. A
// session ends at its expiry (WithSessionLifetime, default 14 days), after
// an idle timeout (WithSessionIdleTimeout, default 24 hours), on
// RevokeSession (log out), and for every session of the user on SetPassword
// and on deletion. SessionUser answers only for a live session of an
// active user, in one statement that records the session's use at most
// once a minute, so a busy session does not cost a write per request.
// middleware.LogIn starts a new session, with a new token, at every login
// and revokes the one the request carried.
package users
