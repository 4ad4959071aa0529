package template

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// uriPart extracts a part of a URI as .NET's System.Uri reports it. Like
// Octostache, problems are written into the output rather than failing.
func uriPart(in filterInput) (string, bool, error) {
	if !in.defined {
		return "", false, nil
	}
	if len(in.args) == 0 {
		return "[UriPart error: no argument given]", true, nil
	}
	part := in.args[0]
	u, absolute, ok := parseDotnetURI(in.value)
	if !ok {
		return in.value, true, nil
	}
	lower := strings.ToLower(part)
	if lower == "isabsoluteuri" {
		return dotnetLowerBool(absolute), true, nil
	}
	if !absolute {
		if uriPartName(lower) {
			return "[UriPart " + part + " error: This operation is not supported for a relative URI.]", true, nil
		}
		return "[UriPart " + part + " error: argument '" + part + "' not supported]", true, nil
	}
	host := strings.ToLower(u.Hostname())
	port, explicitPort := defaultPort(u.Scheme), false
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			port, explicitPort = n, true
		}
	}
	isDefaultPort := !explicitPort || port == defaultPort(u.Scheme)
	hostText := host
	if strings.Contains(host, ":") {
		hostText = "[" + host + "]"
	}
	authority := hostText
	if !isDefaultPort {
		authority += ":" + strconv.Itoa(port)
	}
	path := u.EscapedPath()
	if path == "" && u.Host != "" {
		path = "/"
	}
	query := ""
	if u.RawQuery != "" || u.ForceQuery {
		query = "?" + u.RawQuery
	}
	fragment := ""
	if u.Fragment != "" || u.RawFragment != "" {
		fragment = "#" + u.EscapedFragment()
	}
	userInfo := ""
	if u.User != nil {
		userInfo = u.User.String()
	}
	switch lower {
	case "absolutepath":
		return path, true, nil
	case "absoluteuri":
		s := u.Scheme + ":"
		if u.Host != "" || u.Scheme == "file" {
			s += "//"
			if userInfo != "" {
				s += userInfo + "@"
			}
			s += authority
		}
		return s + path + query + fragment, true, nil
	case "authority":
		return authority, true, nil
	case "dnssafehost":
		return host, true, nil
	case "fragment":
		return fragment, true, nil
	case "host":
		return hostText, true, nil
	case "hostandport":
		return hostText + ":" + strconv.Itoa(port), true, nil
	case "hostnametype":
		return hostNameType(host), true, nil
	case "isdefaultport":
		return dotnetLowerBool(isDefaultPort), true, nil
	case "isfile":
		return dotnetLowerBool(u.Scheme == "file"), true, nil
	case "isloopback":
		ip := net.ParseIP(host)
		return dotnetLowerBool(host == "" && u.Scheme == "file" || host == "localhost" || host == "loopback" || ip != nil && ip.IsLoopback()), true, nil
	case "isunc":
		return dotnetLowerBool(u.Scheme == "file" && host != "" && host != "localhost"), true, nil
	case "path":
		p, err := url.PathUnescape(path)
		if err != nil {
			p = path
		}
		if u.Scheme == "file" && host != "" && host != "localhost" {
			return `\\` + host + strings.ReplaceAll(p, "/", `\`), true, nil
		}
		if u.Scheme == "file" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
			return strings.ReplaceAll(p[1:], "/", `\`), true, nil
		}
		return p, true, nil
	case "pathandquery":
		return path + query, true, nil
	case "port":
		return strconv.Itoa(port), true, nil
	case "query":
		return query, true, nil
	case "scheme":
		return u.Scheme, true, nil
	case "schemeandserver":
		return u.Scheme + "://" + authority, true, nil
	case "userinfo":
		return userInfo, true, nil
	}
	return "[UriPart " + part + " error: argument '" + part + "' not supported]", true, nil
}

func uriPartName(lower string) bool {
	switch lower {
	case "absolutepath", "absoluteuri", "authority", "dnssafehost", "fragment", "host", "hostandport",
		"hostnametype", "isdefaultport", "isfile", "isloopback", "isunc", "path", "pathandquery", "port",
		"query", "scheme", "schemeandserver", "userinfo":
		return true
	}
	return false
}

// parseDotnetURI reads s as an absolute or relative URI. Windows drive paths
// (C:\dir) and UNC paths (\\server\share) are file URIs, as in .NET.
func parseDotnetURI(s string) (*url.URL, bool, bool) {
	t := strings.TrimSpace(s)
	if len(t) >= 3 && isASCIILetter(t[0]) && t[1] == ':' && (t[2] == '\\' || t[2] == '/') {
		t = "file:///" + strings.ReplaceAll(t, `\`, "/")
	} else if strings.HasPrefix(t, `\\`) {
		t = "file:" + strings.ReplaceAll(t, `\`, "/")
	}
	u, err := url.Parse(t)
	if err != nil {
		return nil, false, false
	}
	if u.Scheme == "" {
		return u, false, true
	}
	if u.Opaque == "" && u.Host == "" && u.Scheme != "file" && strings.HasPrefix(t[len(u.Scheme)+1:], "//") {
		return nil, false, false // "http://" without a host
	}
	return u, true, true
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

func defaultPort(scheme string) int {
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	case "ftp":
		return 21
	case "gopher":
		return 70
	case "nntp":
		return 119
	case "telnet":
		return 23
	case "ldap":
		return 389
	case "mailto":
		return 25
	case "net.tcp":
		return 808
	}
	return -1
}

func hostNameType(host string) string {
	if host == "" {
		return "Basic"
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() != nil && !strings.Contains(host, ":") {
			return "IPv4"
		}
		return "IPv6"
	}
	return "Dns"
}
