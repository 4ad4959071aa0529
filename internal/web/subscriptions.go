package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (p *Portal) subscriptionRoutes() {
	p.mux.HandleFunc("GET /subscriptions", p.subscriptions)
	p.mux.HandleFunc("POST /subscriptions", p.createSubscription)
	p.mux.HandleFunc("POST /subscriptions/{id}/test", p.testSubscription)
}

type subscriptionsData struct {
	Items      []model.Subscription
	Deliveries map[string][]model.Delivery
	Events     []model.EventKind
	Form       model.Subscription
}

func (p *Portal) subscriptions(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showSubscriptions(w, r, v, http.StatusOK, model.Subscription{})
}

func (p *Portal) showSubscriptions(w http.ResponseWriter, r *http.Request, v *view, status int, form model.Subscription) {
	d := subscriptionsData{Deliveries: map[string][]model.Delivery{}, Events: model.EventKinds, Form: form}
	var subs wire.Page[model.Subscription]
	if _, err := p.call(r, http.MethodGet, "/subscriptions?take=1000", nil, &subs); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Items = subs.Items
	for _, s := range subs.Items {
		var log wire.Page[model.Delivery]
		p.call(r, http.MethodGet, "/subscriptions/"+url.PathEscape(s.ID)+"/deliveries?take=5", nil, &log)
		d.Deliveries[s.ID] = log.Items
	}
	v.Title, v.Nav, v.Data = "Subscriptions", "configuration", d
	p.render(w, status, "subscriptions", v)
}

func (p *Portal) createSubscription(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	s := model.Subscription{Name: strings.TrimSpace(r.PostFormValue("name")), WebhookURL: strings.TrimSpace(r.PostFormValue("url")),
		Secret: r.PostFormValue("secret"), EmailTo: splitComma(r.PostFormValue("email"))}
	for _, e := range r.PostForm["event"] {
		s.Events = append(s.Events, model.EventKind(e))
	}
	if _, err := p.call(r, http.MethodPost, "/subscriptions", s, &s); err != nil {
		v.Error = err
		s.Secret = ""
		p.showSubscriptions(w, r, v, statusOf(err), s)
		return
	}
	http.Redirect(w, r, "/subscriptions?done="+url.QueryEscape("Created subscription "+s.Name), http.StatusSeeOther)
}

func (p *Portal) testSubscription(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	if _, err := p.call(r, http.MethodPost, "/subscriptions/"+url.PathEscape(r.PathValue("id"))+"/test", nil, nil); err != nil {
		v.Error = err
		p.showSubscriptions(w, r, v, statusOf(err), model.Subscription{})
		return
	}
	http.Redirect(w, r, "/subscriptions?done="+url.QueryEscape("Sent a ping; its delivery shows below"), http.StatusSeeOther)
}
