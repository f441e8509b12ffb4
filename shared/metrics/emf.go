package metrics

import (
	"math"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Metric is one value of a Def.
type Metric struct {
	Def
	Value float64
}

// Of is d with value v.
func (d Def) Of(v float64) Metric { return Metric{d, v} }

// Int is d with value n.
func (d Def) Int(n int64) Metric { return Metric{d, float64(n)} }

// Duration is d with t in seconds.
func (d Def) Duration(t time.Duration) Metric { return Metric{d, t.Seconds()} }

// Emitter puts metrics on log lines. A nil *Emitter puts none (its
// fields are skipped), so code under test may go without one.
type Emitter struct {
	namespace string
	service   string
	now       func() time.Time
}

// New returns an Emitter of namespace for service (the Service
// dimension's value).
func New(namespace, service string) *Emitter {
	return &Emitter{namespace: namespace, service: service, now: time.Now}
}

// WithClock returns a copy of e whose timestamps come from now (tests).
func (e *Emitter) WithClock(now func() time.Time) *Emitter {
	c := *e
	c.now = now
	return &c
}

// Source returns the field that makes a log line carry ms, metrics of
// source's runs: the `_aws` directive (dimension Source) and the values,
// all as top-level members of the line.
func (e *Emitter) Source(source string, ms ...Metric) zap.Field {
	return e.field(DimSource, source, ms)
}

// Service returns the field that makes a log line carry ms, metrics of
// e's service (dimension Service).
func (e *Emitter) Service(ms ...Metric) zap.Field {
	if e == nil {
		return zap.Skip()
	}
	return e.field(DimService, e.service, ms)
}

func (e *Emitter) field(dim, value string, ms []Metric) zap.Field {
	if e == nil || len(ms) == 0 {
		return zap.Skip()
	}
	kept := make([]Metric, 0, len(ms))
	for _, m := range ms {
		if !math.IsNaN(m.Value) && !math.IsInf(m.Value, 0) { // not a JSON number
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return zap.Skip() // a directive with no metrics is not one
	}
	return zap.Inline(line{
		ts:        e.now().UnixMilli(),
		namespace: e.namespace,
		dim:       dim,
		dimValue:  value,
		metrics:   kept,
	})
}

// line is the EMF members of one log line.
type line struct {
	ts        int64
	namespace string
	dim       string
	dimValue  string
	metrics   []Metric
}

func (l line) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if err := enc.AddObject("_aws", awsObject(l)); err != nil {
		return err
	}
	enc.AddString(l.dim, l.dimValue)
	for _, m := range l.metrics {
		enc.AddFloat64(m.Name, m.Value)
	}
	return nil
}

// awsObject is the `_aws` member: the timestamp and one directive.
type awsObject line

func (a awsObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddInt64("Timestamp", a.ts)
	return enc.AddArray("CloudWatchMetrics", zapcore.ArrayMarshalerFunc(func(arr zapcore.ArrayEncoder) error {
		return arr.AppendObject(directive(a))
	}))
}

// directive is the metric directive: namespace, the one dimension set,
// and the metrics' names and units.
type directive line

func (d directive) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("Namespace", d.namespace)
	if err := enc.AddArray("Dimensions", zapcore.ArrayMarshalerFunc(func(sets zapcore.ArrayEncoder) error {
		return sets.AppendArray(zapcore.ArrayMarshalerFunc(func(set zapcore.ArrayEncoder) error {
			set.AppendString(d.dim)
			return nil
		}))
	})); err != nil {
		return err
	}
	return enc.AddArray("Metrics", zapcore.ArrayMarshalerFunc(func(arr zapcore.ArrayEncoder) error {
		for _, m := range d.metrics {
			if err := arr.AppendObject(zapcore.ObjectMarshalerFunc(func(o zapcore.ObjectEncoder) error {
				o.AddString("Name", m.Name)
				o.AddString("Unit", string(m.Unit))
				return nil
			})); err != nil {
				return err
			}
		}
		return nil
	}))
}
