package runs_test

import "github.com/sluice-data/sluice/shared/devstack"

var devstackOptions = devstack.Options{}
