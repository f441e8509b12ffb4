package metrics

// Unit is a CloudWatch metric unit.
type Unit string

// The units the EMF specification allows (the values of CloudWatch's
// StandardUnit).
const (
	UnitSeconds         Unit = "Seconds"
	UnitMicroseconds    Unit = "Microseconds"
	UnitMilliseconds    Unit = "Milliseconds"
	UnitBytes           Unit = "Bytes"
	UnitKilobytes       Unit = "Kilobytes"
	UnitMegabytes       Unit = "Megabytes"
	UnitGigabytes       Unit = "Gigabytes"
	UnitTerabytes       Unit = "Terabytes"
	UnitBits            Unit = "Bits"
	UnitKilobits        Unit = "Kilobits"
	UnitMegabits        Unit = "Megabits"
	UnitGigabits        Unit = "Gigabits"
	UnitTerabits        Unit = "Terabits"
	UnitPercent         Unit = "Percent"
	UnitCount           Unit = "Count"
	UnitBytesPerSecond  Unit = "Bytes/Second"
	UnitKilobytesPerSec Unit = "Kilobytes/Second"
	UnitMegabytesPerSec Unit = "Megabytes/Second"
	UnitGigabytesPerSec Unit = "Gigabytes/Second"
	UnitTerabytesPerSec Unit = "Terabytes/Second"
	UnitBitsPerSecond   Unit = "Bits/Second"
	UnitKilobitsPerSec  Unit = "Kilobits/Second"
	UnitMegabitsPerSec  Unit = "Megabits/Second"
	UnitGigabitsPerSec  Unit = "Gigabits/Second"
	UnitTerabitsPerSec  Unit = "Terabits/Second"
	UnitCountPerSecond  Unit = "Count/Second"
	UnitNone            Unit = "None"
)

// Units lists every allowed unit.
var Units = []Unit{
	UnitSeconds, UnitMicroseconds, UnitMilliseconds,
	UnitBytes, UnitKilobytes, UnitMegabytes, UnitGigabytes, UnitTerabytes,
	UnitBits, UnitKilobits, UnitMegabits, UnitGigabits, UnitTerabits,
	UnitPercent, UnitCount,
	UnitBytesPerSecond, UnitKilobytesPerSec, UnitMegabytesPerSec, UnitGigabytesPerSec, UnitTerabytesPerSec,
	UnitBitsPerSecond, UnitKilobitsPerSec, UnitMegabitsPerSec, UnitGigabitsPerSec, UnitTerabitsPerSec,
	UnitCountPerSecond, UnitNone,
}
