package metricstest

import (
	"encoding/json"
	"fmt"
	"io"
)

// duplicateKeys reports every key that occurs twice in one object of
// line, a JSON value, by its path (`_aws.CloudWatchMetrics[0].Namespace`;
// a top-level member by its name). encoding/json keeps the last of two
// keys, while what CloudWatch's extraction makes of them is not
// specified: a metric or dimension written twice on one line (say a log
// field named like a metric) could be extracted with either value.
func duplicateKeys(line []byte) []error {
	dec := json.NewDecoder(bytesReader(line))
	var errs []error
	if err := walkValue(dec, "", &errs); err != nil && err != io.EOF {
		return []error{fmt.Errorf("not a JSON object: %w", err)}
	}
	return errs
}

// walkValue reads one value from dec, recording the duplicate keys of
// the objects in it under path.
func walkValue(dec *json.Decoder, path string, errs *[]error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			at := key
			if path != "" {
				at = path + "." + key
			}
			if seen[key] {
				*errs = append(*errs, fmt.Errorf("duplicate key %q", at))
			}
			seen[key] = true
			if err := walkValue(dec, at, errs); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
		return err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, fmt.Sprintf("%s[%d]", path, i), errs); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}
