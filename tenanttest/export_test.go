package tenanttest

// Run is Main without the exit.
var Run = run
