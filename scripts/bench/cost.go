package main

import (
	"github.com/sluice-data/sluice/shared/awsconf"

	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Prices are AWS list prices, us-east-1, without free tiers, as the
// pricing pages showed them when checked on 2026-12-01:
//
//   - Lambda: https://aws.amazon.com/lambda/pricing/ — arm64 (the
//     architecture infra/ deploys) $0.0000133334 per GB-s, $0.20 per 1M
//     requests.
//   - SQS: https://aws.amazon.com/sqs/pricing/ — standard queues $0.40 per
//     1M requests; "each 64 KB chunk of a payload is billed as 1 request".
//   - S3: https://aws.amazon.com/s3/pricing/ — S3 Standard PUT, COPY, POST,
//     LIST $0.005 per 1,000; GET, SELECT and all other requests $0.0004 per
//     1,000 (DELETE is free). Storage is left out: it is the same for any
//     tool that lands the same bytes.
//   - DynamoDB: https://aws.amazon.com/dynamodb/pricing/on-demand/ —
//     on-demand $0.625 per 1M write request units, $0.125 per 1M read
//     request units (the prices since the November 2024 cut).
//   - Glue: https://aws.amazon.com/glue/pricing/ — $0.44 per DPU-hour;
//     a Python shell job runs on 0.0625 DPU, a Spark job on at least 2, each
//     billed for at least one minute.
var prices = struct {
	LambdaGBSecond, LambdaRequest            float64
	SQSRequest                               float64
	S3Put, S3Get                             float64
	DynamoWRU, DynamoRRU                     float64
	GlueDPUHour, GluePythonDPU, GlueSparkDPU float64
}{
	LambdaGBSecond: 0.0000133334, LambdaRequest: 0.20 / 1e6,
	SQSRequest: 0.40 / 1e6,
	S3Put:      0.005 / 1000, S3Get: 0.0004 / 1000,
	DynamoWRU: 0.625 / 1e6, DynamoRRU: 0.125 / 1e6,
	GlueDPUHour: 0.44, GluePythonDPU: 0.0625, GlueSparkDPU: 2,
}

// glueMinimum is the cost of the shortest Glue run (one minute) on dpu.
func glueMinimum(dpu float64) float64 { return dpu * prices.GlueDPUHour / 60 }

// S3 and DynamoDB operations by price class.
var (
	s3PutClass = map[string]bool{"PutObject": true, "CopyObject": true, "CreateMultipartUpload": true,
		"UploadPart": true, "CompleteMultipartUpload": true, "ListObjectsV2": true, "ListObjects": true,
		"ListMultipartUploads": true, "ListParts": true} // S3 bills every LIST at the PUT price
	s3Free          = map[string]bool{"DeleteObject": true, "DeleteObjects": true}
	dynamoWriteOps  = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true}
	dynamoTransacts = map[string]bool{"TransactWriteItems": true}
	dynamoReadOps   = map[string]bool{"GetItem": true, "Query": true, "Scan": true, "BatchGetItem": true}
)

// tally is one measured run's AWS requests by price class.
type tally struct {
	S3Put, S3Get, S3Objects   int64 // S3Objects: PutObject alone
	DynamoWrites, DynamoReads int64
	DynamoWRU, DynamoRRU      int64 // request units, items taken as ≤ 1 KB (writes) and ≤ 4 KB (reads)
	SQSBilled, SQSEmpty       int64
}

// tallyOf sorts the counted requests ("Service.Operation") and the SQS
// requests as billed into price classes.
func tallyOf(requests, billed map[string]int64) tally {
	var t tally
	for k, n := range requests {
		svc, op, _ := strings.Cut(k, ".")
		switch {
		case svc == "S3" && s3PutClass[op]:
			t.S3Put += n
			if op == "PutObject" {
				t.S3Objects += n
			}
		case svc == "S3" && !s3Free[op]:
			t.S3Get += n
		case svc == "DynamoDB" && dynamoWriteOps[op]:
			t.DynamoWrites += n
			t.DynamoWRU += n
		case svc == "DynamoDB" && dynamoTransacts[op]:
			t.DynamoWrites += n
			t.DynamoWRU += 2 * n // a transactional write costs two units per item; counted as one item
		case svc == "DynamoDB" && dynamoReadOps[op]:
			t.DynamoReads += n
			t.DynamoRRU += n
		}
	}
	for k, n := range billed {
		if k == awsconf.EmptyReceive {
			t.SQSEmpty += n
			continue
		}
		t.SQSBilled += n
	}
	return t
}

// lambdaUse is what the functions of one run would be billed for.
type lambdaUse struct {
	GBSeconds   float64
	Invocations int64
}

// costs is one run's modelled AWS bill, by service.
type costs struct{ Lambda, SQS, S3, DynamoDB float64 }

func (c costs) Total() float64 { return c.Lambda + c.SQS + c.S3 + c.DynamoDB }

func costOf(t tally, l lambdaUse) costs {
	return costs{
		Lambda:   l.GBSeconds*prices.LambdaGBSecond + float64(l.Invocations)*prices.LambdaRequest,
		SQS:      float64(t.SQSBilled) * prices.SQSRequest,
		S3:       float64(t.S3Put)*prices.S3Put + float64(t.S3Get)*prices.S3Get,
		DynamoDB: float64(t.DynamoWRU)*prices.DynamoWRU + float64(t.DynamoRRU)*prices.DynamoRRU,
	}
}

// memoryDefault finds `<fn> = optional(object({ … memory_size = optional(number, N)`
// in the functions variable of the Terraform module.
var memoryDefault = regexp.MustCompile(`(?s)\b(scheduler|dedupe|fetcher|writer)\s*=\s*optional\(object\(\{[^}]*?memory_size\s*=\s*optional\(number,\s*(\d+)\)`)

// lambdaMemory reads each function's default memory size (MB) from the
// Terraform module's variables file, so that the cost model uses what a
// deploy gets.
func lambdaMemory(variablesTF string) (map[string]int, error) {
	b, err := os.ReadFile(variablesTF)
	if err != nil {
		return nil, err
	}
	mem := map[string]int{}
	for _, m := range memoryDefault.FindAllStringSubmatch(string(b), -1) {
		mb, _ := strconv.Atoi(m[2]) // \d+
		mem[m[1]] = mb
	}
	for _, fn := range []string{"scheduler", "dedupe", "fetcher", "writer"} {
		if mem[fn] == 0 {
			return nil, fmt.Errorf("%s: no memory_size default for %s in the functions variable", variablesTF, fn)
		}
	}
	return mem, nil
}
