package hosting

import "github.com/laurel-badges/laurel/openbadges/ob3"

// pageEndorsement is one endorsement as the badge page shows it.
type pageEndorsement struct {
	Endorser, Comment, URL string
}

// endorsementsOf lists the endorsements signed into a credential's achievement: the page
// shows what the credential carries, so what it says matches what a verifier checks.
func endorsementsOf(a ob3.Achievement) []pageEndorsement {
	out := make([]pageEndorsement, 0, len(a.Endorsement))
	for _, e := range a.Endorsement {
		name := e.Issuer.Name
		if name == "" {
			name = e.Issuer.ID
		}
		out = append(out, pageEndorsement{Endorser: name, Comment: e.CredentialSubject.EndorsementComment, URL: e.ID})
	}
	return out
}
