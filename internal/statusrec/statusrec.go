// Package statusrec records the status code of an HTTP answer, for the
// handler's metrics and the server's access log.
package statusrec

import "net/http"

// Recorder is an http.ResponseWriter that remembers the status code written
// through it.
type Recorder struct {
	http.ResponseWriter
	status int
}

// New returns a Recorder writing to w.
func New(w http.ResponseWriter) *Recorder { return &Recorder{ResponseWriter: w} }

// WriteHeader records the first status code and passes it on.
func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status was written, as net/http does, and
// passes b on.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Status is the status code of the answer: 200 when the handler wrote
// nothing, as net/http answers then.
func (r *Recorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
