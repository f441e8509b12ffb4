module github.com/sluice-data/sluice/scripts/demoapi

go 1.26.8
