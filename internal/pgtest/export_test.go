package pgtest

// BinDirUnder is BinDir with root in place of /usr/lib/postgresql.
var BinDirUnder = binDirUnder
