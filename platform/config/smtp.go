package config

import (
	"flag"
	"net"
	"net/mail"
)

// SMTP is how the notifier sends badge e-mail. Without an address no mail is sent (except
// that `laurel dev` then writes .eml files under its data directory).
type SMTP struct {
	Addr     string // host:port of the SMTP server
	Username string // empty: no AUTH
	Password Secret
	// TLS is "starttls" (plain connection upgraded, required), "tls" (implicit TLS, usually
	// port 465) or "none" (only for a relay on localhost: credentials are never sent in
	// clear to another host).
	TLS  string
	From string // the From header, e.g. "Academy Badges <badges@academy.example>"
}

// Register binds smtp-addr, smtp-username, smtp-password, smtp-tls and mail-from.
func (s *SMTP) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.Addr, "smtp-addr", s.Addr, "SMTP server host:port for badge e-mail; empty sends none (laurel dev: .eml files under --data)")
	fs.StringVar(&s.Username, "smtp-username", s.Username, "SMTP AUTH PLAIN user name; empty for no AUTH")
	fs.Var(&s.Password, "smtp-password", "SMTP AUTH PLAIN password")
	fs.StringVar(&s.TLS, "smtp-tls", orDefault(s.TLS, "starttls"), "starttls, tls (implicit) or none (localhost relay only)")
	fs.StringVar(&s.From, "mail-from", s.From, `From of badge e-mail, e.g. "Academy Badges <badges@academy.example>"`)
}

// Validate checks the address, the TLS mode and the sender.
func (s *SMTP) Validate() []error {
	var errs []error
	if s.Addr != "" {
		if _, port, err := net.SplitHostPort(s.Addr); err != nil || port == "" {
			errs = append(errs, flagErr("smtp-addr", "%q is not host:port", s.Addr))
		}
		if s.From == "" {
			errs = append(errs, flagErr("mail-from", "is required with --smtp-addr"))
		}
	}
	switch s.TLS {
	case "", "starttls", "tls", "none":
	default:
		errs = append(errs, flagErr("smtp-tls", "%q is not starttls, tls or none", s.TLS))
	}
	if s.From != "" {
		if _, err := mail.ParseAddress(s.From); err != nil {
			errs = append(errs, flagErr("mail-from", "%q is not an e-mail address", s.From))
		}
	}
	if s.Password.IsSet() && s.Username == "" {
		errs = append(errs, flagErr("smtp-username", "is required with --smtp-password"))
	}
	return errs
}
