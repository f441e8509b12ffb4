// Command fakests is the one AWS endpoint a `terraform plan` of a new
// Sluice stack calls: STS GetCallerIdentity, for data.aws_caller_identity.
// It listens on 127.0.0.1 only, writes its URL to -url-file once it
// accepts connections, answers GetCallerIdentity with a fixed account and
// refuses every other call with an error, so that a plan which starts to
// need more of AWS fails instead of silently planning against nothing.
//
// scripts/infraplan.sh points the AWS provider's sts endpoint at it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	account := flag.String("account", "123456789012", "account id GetCallerIdentity answers")
	urlFile := flag.String("url-file", "", "write the server's URL here once it listens")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("fakests: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *account, *urlFile); err != nil {
		log.Fatal(err)
	}
}

func serve(ctx context.Context, account, urlFile string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if urlFile != "" {
		// Written whole under another name, then renamed: a reader polling
		// for the file never sees half a URL.
		if err := os.WriteFile(urlFile+".tmp", []byte(url+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(urlFile+".tmp", urlFile); err != nil {
			return err
		}
	}
	fmt.Println(url)
	srv := &http.Server{Handler: newHandler(account, log.Printf), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
