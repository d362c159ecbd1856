package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/auth/kvkeys"
	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/process"
	"github.com/laurel-badges/laurel/platform/subjects"
	adminv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/admin/v1"
)

func keysCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "keys",
		ShortUsage:  "laurel keys <create|list|delete|bootstrap> [flags]",
		ShortHelp:   "manage API keys of your tenant",
		Subcommands: []*ffcli.Command{keysCreate(g), keysList(g), keysDelete(g), keysBootstrap(g)},
		Exec: func(context.Context, []string) error {
			return usagef("keys needs a verb: create, list, delete or bootstrap")
		},
	}
}

var roleNames = map[string]adminv1.Role{
	"admin": adminv1.Role_ROLE_ADMIN, "creator": adminv1.Role_ROLE_CREATOR, "issuer": adminv1.Role_ROLE_ISSUER,
}

func roleName(r adminv1.Role) string {
	for name, v := range roleNames {
		if v == r {
			return name
		}
	}
	return r.String()
}

func keysCreate(g *globals) *ffcli.Command {
	var c clientFlags
	var role, name string
	fs := newFlagSet("laurel keys create")
	c.register(fs)
	fs.StringVar(&role, "role", "issuer", "admin, creator or issuer")
	fs.StringVar(&name, "name", "", "what the key is for")
	return &ffcli.Command{
		Name: "create", ShortUsage: "laurel keys create --role ROLE --name NAME", ShortHelp: "create an API key (printed once)",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			r, ok := roleNames[role]
			if !ok {
				return usagef("--role must be admin, creator or issuer, got %q", role)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := adminv1.NewAdminServiceClient(conn).CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{
					ApiKey: &adminv1.ApiKey{DisplayName: name, Role: r},
				})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				g.printf("%s\n", resp.GetSecret())
				fmt.Fprintf(g.stderr, "created %s (%s); the key above is shown only now\n", resp.GetApiKey().GetName(), role)
				return nil
			})
		},
	}
}

func keysList(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel keys list")
	c.register(fs)
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel keys list", ShortHelp: "list your tenant's API keys (never their secrets)",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				client := adminv1.NewAdminServiceClient(conn)
				all := &adminv1.ListApiKeysResponse{}
				for token := ""; ; {
					resp, err := client.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{PageSize: 1000, PageToken: token})
					if err != nil {
						return err
					}
					all.ApiKeys = append(all.ApiKeys, resp.GetApiKeys()...)
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, all)
				}
				rows := make([][]string, len(all.GetApiKeys()))
				for i, k := range all.GetApiKeys() {
					rows[i] = []string{strings.TrimPrefix(k.GetName(), "apiKeys/"), roleName(k.GetRole()), k.GetDisplayName(), formatTime(k.GetCreateTime())}
				}
				return printTable(g.stdout, []string{"ID", "ROLE", "NAME", "CREATED"}, rows)
			})
		},
	}
}

func keysDelete(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel keys delete")
	c.register(fs)
	return &ffcli.Command{
		Name: "delete", ShortUsage: "laurel keys delete ID", ShortHelp: "delete an API key", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "keys delete takes one key id")
			if err != nil {
				return err
			}
			name := "apiKeys/" + strings.TrimPrefix(args[0], "apiKeys/")
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				if _, err := adminv1.NewAdminServiceClient(conn).DeleteApiKey(ctx, &adminv1.DeleteApiKeyRequest{Name: name}); err != nil {
					return err
				}
				g.printf("deleted %s\n", name)
				return nil
			})
		},
	}
}

// keysBootstrap creates a tenant's first admin key directly in the key store on NATS: the
// operator's way in, since every API call already needs a key.
func keysBootstrap(g *globals) *ffcli.Command {
	var natsCfg config.NATS
	var tenant, role, name string
	fs := newFlagSet("laurel keys bootstrap")
	natsCfg.Register(fs)
	fs.StringVar(&tenant, "tenant", "", "tenant id the key belongs to (lower-case letters, digits, '-', '_')")
	fs.StringVar(&role, "role", "admin", "admin, creator or issuer")
	fs.StringVar(&name, "name", "bootstrap admin", "what the key is for")
	return &ffcli.Command{
		Name: "bootstrap", ShortUsage: "laurel keys bootstrap --tenant TENANT [--nats-url URL]",
		ShortHelp: "create a tenant's first key directly in NATS (operators only)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if err := subjects.ValidTenant(tenant); err != nil {
				return usagef("--tenant: %v", err)
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return usagef("--role: %v", err)
			}
			if err := config.Validate(&natsCfg); err != nil {
				return usageError{err.Error()}
			}
			opts := []nats.Option{nats.Name("laurel keys bootstrap")}
			if natsCfg.CredsFile != "" {
				opts = append(opts, nats.UserCredentials(natsCfg.CredsFile))
			}
			nc, err := nats.Connect(natsCfg.URL, opts...)
			if err != nil {
				return fmt.Errorf("connect to NATS: %w", err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			keys, err := kvkeys.Open(ctx, js, process.KeysBucket)
			if err != nil {
				return err
			}
			defer keys.Close()
			plain, rec, err := auth.NewKey(tenant, r, name)
			if err != nil {
				return err
			}
			if err := keys.Put(ctx, rec); err != nil {
				return err
			}
			g.printf("%s\n", plain)
			fmt.Fprintf(g.stderr, "created apiKeys/%s (%s) for tenant %s; the key above is shown only now\n", rec.ID, r, tenant)
			return nil
		},
	}
}
