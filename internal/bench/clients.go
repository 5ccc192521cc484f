package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Client is a registered client as a run last saw it: what read, update and
// delete need to manage it (RFC 7592). A run's Report.Clients lists the
// clients it leaves registered, so that a later run (Config.Clients) can
// work on them, e.g. on a population registered once.
type Client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret,omitempty"`
	URI    string `json:"registration_client_uri"`
	Token  string `json:"registration_access_token"`
}

// WriteClients writes cs as JSON lines, one client per line.
func WriteClients(w io.Writer, cs []Client) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	for i := range cs {
		if err := enc.Encode(&cs[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadClients reads clients written by WriteClients. Blank lines are
// skipped; any other line that is not a client is an error naming its line.
func ReadClients(r io.Reader) ([]Client, error) {
	var cs []Client
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var c Client
		if err := json.Unmarshal(line, &c); err != nil {
			return nil, fmt.Errorf("bench: clients line %d: %w", n, err)
		}
		if c.ID == "" || c.URI == "" || c.Token == "" {
			return nil, fmt.Errorf("bench: clients line %d: client_id, registration_client_uri and registration_access_token are required", n)
		}
		cs = append(cs, c)
	}
	return cs, sc.Err()
}
