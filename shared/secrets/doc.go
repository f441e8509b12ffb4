// Package secrets resolves the secret references of a pipeline config
// (pipeline.Secret) to their values, so that credentials are kept where they
// belong — the environment, AWS Secrets Manager, SSM Parameter Store — and a
// config file or a queue message only ever names them:
//
//	env:NAME                          environment variable NAME
//	secretsmanager:NAME-OR-ARN[#KEY]  Secrets Manager SecretString; #KEY picks a string field of a JSON object
//	ssm:/PARAMETER/NAME               Parameter Store parameter, decrypted
//
// A Resolver reads each AWS secret once and keeps its value for the life of
// the process: a service resolves its sources' credentials at startup, and
// rotating a secret means restarting it. Each AWS call has its own deadline.
//
// Errors name the reference and what went wrong (not set, not found, no such
// key, empty), never the value, so that they can be logged and shown in a
// config validation error as they are. A reference that cannot be found is
// fault.Permanent and matches ErrNotFound; other AWS failures (throttling,
// network, access denied) are passed on as the SDK reported them.
package secrets
