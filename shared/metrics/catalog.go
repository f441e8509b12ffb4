package metrics

// DefaultNamespace is the CloudWatch namespace of Sluice's metrics when
// SLUICE_METRICS_NAMESPACE is unset (Terraform's metrics_namespace).
const DefaultNamespace = "Sluice"

// The two dimensions. A metric has exactly one.
const (
	// DimSource: the metrics of a source's runs, valued with the source's
	// name.
	DimSource = "Source"
	// DimService: the metrics of a service, valued with its name
	// (scheduler, dedupe, fetcher, writer).
	DimService = "Service"
)

// Def is one metric Sluice emits: its name, unit and dimension.
type Def struct {
	Name      string
	Unit      Unit
	Dimension string
}

// The metrics of a source's runs (dimension Source).
var (
	// RunsSucceeded: 1 per run that SUCCEEDED, written by the call that
	// moved it there (writer, "run SUCCEEDED"; a give-up that finished a
	// published commit, "commit given up on: run SUCCEEDED").
	RunsSucceeded = Def{"RunsSucceeded", UnitCount, DimSource}
	// RunsFailed: 1 per run marked FAILED, written by the call that marked
	// it (the service that gave up on it, "run FAILED"; the writer's
	// commit below the published attempt, "run FAILED"; a give-up of an
	// unpublished commit, "commit given up on: run FAILED"; the sweep,
	// "run FAILED: its worker died on every take-up").
	RunsFailed = Def{"RunsFailed", UnitCount, DimSource}
	// Records: the records of a run that SUCCEEDED (writer, on the
	// RunsSucceeded line, as are Bytes, Attempts and RunDuration).
	Records = Def{"Records", UnitCount, DimSource}
	// Bytes: the bytes of API response bodies of a run that SUCCEEDED
	// (writer).
	Bytes = Def{"Bytes", UnitBytes, DimSource}
	// Attempts: the attempt number of a run that SUCCEEDED: 1 when its
	// first attempt did (writer).
	Attempts = Def{"Attempts", UnitCount, DimSource}
	// RunDuration: from the succeeding attempt's claim to its SUCCEEDED
	// (writer).
	RunDuration = Def{"RunDuration", UnitSeconds, DimSource}
	// Pages: pages fetched by one fetcher invocation (fetcher: "fetched",
	// "handed over to a new invocation", "the source stopped the fetch").
	Pages = Def{"Pages", UnitCount, DimSource}
	// API429: responses 429 Too Many Requests in one fetcher invocation
	// (the same lines as Pages).
	API429 = Def{"Api429", UnitCount, DimSource}
	// API5xx: responses 5xx in one fetcher invocation (the same lines).
	API5xx = Def{"Api5xx", UnitCount, DimSource}
	// Retries: requests made again after a failed one (a backoff retry or
	// a Retry-After waited out) in one fetcher invocation (the same lines).
	Retries = Def{"Retries", UnitCount, DimSource}
	// HandOvers: 1 per fetch handed over to a new invocation (fetcher,
	// "handed over to a new invocation").
	HandOvers = Def{"HandOvers", UnitCount, DimSource}
	// Stops: 1 per fetch the source stopped, to go on later from the page
	// it stopped on (fetcher, "the source stopped the fetch").
	Stops = Def{"Stops", UnitCount, DimSource}
	// FreshnessLag: how far the source's latest SUCCEEDED window is
	// behind what its schedule allows, 0 when it is fresh (scheduler,
	// every sweep: "freshness").
	FreshnessLag = Def{"FreshnessLag", UnitSeconds, DimSource}
)

// The metrics of a service (dimension Service).
var (
	// MessagesHandled: messages whose handling ended, whatever the
	// outcome, per Lambda invocation or poller receive ("batch handled").
	MessagesHandled = Def{"MessagesHandled", UnitCount, DimService}
	// MessagesParked: of those, messages parked in the DLQ.
	MessagesParked = Def{"MessagesParked", UnitCount, DimService}
	// MessagesRetried: of those, messages left for redelivery.
	MessagesRetried = Def{"MessagesRetried", UnitCount, DimService}
	// DuplicatesDropped: 1 per input dropped on a lost claim that is not
	// AlreadySucceeded: an attempt holds the input (asked for again while
	// it runs), a copy of a forced request that already reran it (the run
	// SUCCEEDED under its force id), or a sweep's take-up the run no
	// longer needs (taken up already, FAILED, CLAIMED or fetched) (dedupe,
	// "claim lost; duplicate dropped", its reason "held by …" or
	// "already SUCCEEDED …").
	DuplicatesDropped = Def{"DuplicatesDropped", UnitCount, DimService}
	// AlreadySucceeded: 1 per input dropped because its window already
	// SUCCEEDED and it is not forced: lookback's re-asks of finished
	// windows on every scheduled trigger, a copy of an input that came
	// after its run finished, a sweep's take-up of a run that finished
	// (dedupe, the same line with a reason "already SUCCEEDED …").
	AlreadySucceeded = Def{"AlreadySucceeded", UnitCount, DimService}
)

// Catalog is every metric Sluice emits.
var Catalog = []Def{
	RunsSucceeded, RunsFailed, Records, Bytes, Attempts, RunDuration,
	Pages, API429, API5xx, Retries, HandOvers, Stops, FreshnessLag,
	MessagesHandled, MessagesParked, MessagesRetried, DuplicatesDropped, AlreadySucceeded,
}
