package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/sluice-data/sluice/shared/auth"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/secrets"
)

func ExampleForSources() {
	ctx := context.Background()
	os.Setenv("ORDERS_API_TOKEN", "t0ken") // set by the deployment
	defer os.Unsetenv("ORDERS_API_TOKEN")
	cfg := &pipeline.Config{File: "pipeline.yaml", Sources: []pipeline.Source{
		{Name: "orders", Auth: pipeline.Auth{Type: pipeline.Bearer, Token: "env:ORDERS_API_TOKEN"}},
		{Name: "customers", Auth: pipeline.Auth{Type: pipeline.APIKey, Name: "X-Api-Key", Key: "env:CUSTOMERS_API_KEY"}},
	}}
	// A service builds its resolver with secrets.New(awsConfig).
	r := secrets.NewWithClients(nil, nil)

	// A missing secret is a config error, reported before any work is taken.
	_, err := auth.ForSources(ctx, cfg, r, http.DefaultClient)
	fmt.Println(err)

	os.Setenv("CUSTOMERS_API_KEY", "k3y")
	defer os.Unsetenv("CUSTOMERS_API_KEY")
	authorizers, err := auth.ForSources(ctx, cfg, r, http.DefaultClient)
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/orders", nil)
	authorizers["orders"].Authorize(ctx, req)
	fmt.Println(req.Header.Get("Authorization"))
	fmt.Println(authorizers["customers"])
	// Output:
	// pipeline.yaml: sources[1].auth.key: secret env:CUSTOMERS_API_KEY: environment variable CUSTOMERS_API_KEY is not set
	// Bearer t0ken
	// api_key in header X-Api-Key
}
