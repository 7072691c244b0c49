package maassim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxBodyBytes bounds a request body (user data is the big field).
const maxBodyBytes = 32 << 20

// param is one key=value pair of a query string or form body.
type param struct{ key, value string }

// params keeps a request's parameters in the order they were sent, because
// MAAS echoes them back in that order in some error messages (Django's
// QueryDict keeps order; url.Values does not).
type params []param

// parseParams parses a URL-encoded query or form body. Like Django, it keeps
// blank values and a key without "=" gets the empty value; an undecodable
// escape is kept as sent rather than failing the request.
func parseParams(raw string) params {
	var out params
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		out = append(out, param{unescapeParam(k), unescapeParam(v)})
	}
	return out
}

func unescapeParam(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// get returns the last value of key, as Django's QueryDict.get does.
func (p params) get(key string) (string, bool) {
	for _, x := range slices.Backward(p) {
		if x.key == key {
			return x.value, true
		}
	}
	return "", false
}

// all returns every value of key in order.
func (p params) all(key string) []string {
	var out []string
	for _, x := range p {
		if x.key == key {
			out = append(out, x.value)
		}
	}
	return out
}

// lists groups values by key in first-seen key order, as QueryDict.lists().
func (p params) lists() []keyValues {
	var out []keyValues
	index := map[string]int{}
	for _, x := range p {
		i, ok := index[x.key]
		if !ok {
			i = len(out)
			index[x.key] = i
			out = append(out, keyValues{key: x.key})
		}
		out[i].values = append(out[i].values, x.value)
	}
	return out
}

type keyValues struct {
	key    string
	values []string
}

// readBody reads a POST or PUT body: URL-encoded or multipart form fields
// (file parts are ignored). Any other body yields no parameters.
func readBody(r *http.Request) (p params, err error) {
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body := io.LimitReader(r.Body, maxBodyBytes+1)
	switch ct {
	case "application/x-www-form-urlencoded":
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, fmt.Errorf("reading body: %w", err)
		}
		if len(data) > maxBodyBytes {
			return nil, errBodyTooLarge
		}
		return parseParams(string(data)), nil
	case "multipart/form-data":
		boundary := ctParams["boundary"]
		if boundary == "" {
			return nil, errors.New("multipart body without boundary")
		}
		mr := multipart.NewReader(body, boundary)
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return p, nil
			}
			if err != nil {
				return nil, fmt.Errorf("reading multipart body: %w", err)
			}
			if part.FileName() != "" || part.FormName() == "" {
				continue
			}
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, part); err != nil {
				return nil, fmt.Errorf("reading multipart field: %w", err)
			}
			p = append(p, param{part.FormName(), buf.String()})
		}
	}
	return nil, nil
}

var errBodyTooLarge = errors.New("request body too large")

// strictUnmarshal decodes JSON, refusing unknown fields and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	if dec.More() {
		return errors.New("decoding JSON: trailing data")
	}
	return nil
}
