package web

import "net/http"

// octopusLinksPage answers /app, where the links Octopus's tools print
// lead: a script reads the part after # (which browsers never send) and
// goes to Pulpo's page for the same project, release, task or machine.
const octopusLinksPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pulpo</title>
<script src="/static/octopus-links.js"></script></head>
<body><p>Opening the page in Pulpo… <a href="/">Go to the dashboard</a>.</p></body></html>
`

func (p *Portal) octopusLinks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(octopusLinksPage))
}
