// Command natsserver is nats-server built from the Go module Laurel depends on
// (github.com/nats-io/nats-server/v2, v2.15.x), so that tests and tools can run NATS as
// a real child process — and kill -9 it — without the machine's older nats-server. It
// takes nats-server's own flags; package cluster passes `-c <config file>`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	fs := flag.NewFlagSet("natsserver", flag.ExitOnError)
	opts, err := server.ConfigureOptions(fs, os.Args[1:], server.PrintServerAndExit, fs.Usage, server.PrintTLSHelpAndDie)
	if err != nil {
		if errors.Is(err, server.ErrConfigReloadNotSupported) {
			fmt.Fprintf(os.Stderr, "natsserver: %v\n", err)
			os.Exit(3)
		}
		server.PrintAndDie(fmt.Sprintf("natsserver: %v", err))
	}
	s, err := server.NewServer(opts)
	if err != nil {
		server.PrintAndDie(fmt.Sprintf("natsserver: %v", err))
	}
	s.ConfigureLogger()
	if err := server.Run(s); err != nil {
		server.PrintAndDie(err.Error())
	}
	s.WaitForShutdown()
}
