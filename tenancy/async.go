package tenancy

type asyncConfig struct{}
