/**
 * S3's checks of a browser-based upload (POST Object with a policy, Signature Version 4), for the
 * local S3: s3rver stores any form it is sent. What S3 checks and this checks too
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html):
 *   - the form carries `policy`, `x-amz-algorithm` AWS4-HMAC-SHA256, `x-amz-credential`,
 *     `x-amz-date` and `x-amz-signature`, and the signature is the HMAC-SHA256 of the policy (its
 *     base64 text) with the signing key derived from the credential's secret, date, region and
 *     service (403 AccessDenied, 403 InvalidAccessKeyId, 403 SignatureDoesNotMatch);
 *   - the policy is base64 of JSON with `expiration` (ISO 8601) in the future and `conditions`;
 *   - every condition holds: `{field: value}` and `["eq", "$field", value]` exact matches,
 *     `["starts-with", "$field", prefix]`, `["content-length-range", min, max]` on the file's size
 *     (400 EntityTooSmall / EntityTooLarge), `bucket` against the bucket posted to;
 *   - every form field but `policy`, `x-amz-signature`, `file` and `x-ignore-*` is named by a
 *     condition ("Extra input fields").
 * Field names are compared without case, values with case, as S3 does.
 */
import { createHmac } from 'node:crypto';

export type PolicyCondition =
  | Record<string, string>
  | ['eq' | 'starts-with', string, string]
  | ['content-length-range', number, number];

export interface PolicyFailure {
  status: 400 | 403;
  code: string;
  message: string;
}

/** Fields that no condition has to name. */
const EXEMPT = new Set(['policy', 'x-amz-signature', 'file']);

const fail = (status: 400 | 403, code: string, message: string): PolicyFailure => ({ status, code, message });
const denied = (why: string) => fail(403, 'AccessDenied', `Invalid according to Policy: ${why}`);

/** SigV4's signing key: HMAC chain of the secret over date, region, service and "aws4_request". */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/** The signature S3 expects for a POST policy (its base64 text, signed as is). */
export function policySignature(policy: string, secret: string, credential: string): string {
  const [, date = '', region = '', service = ''] = credential.split('/');
  return createHmac('sha256', signingKey(secret, date, region, service))
    .update(policy)
    .digest('hex');
}

/**
 * Checks the form's fields (names lower-cased; the file's size in bytes) against its policy and
 * signature. `secretOf` gives the secret of an access key id (undefined when unknown). Returns the
 * failure S3 would answer, or undefined when S3 would store the object.
 */
export function checkPostPolicy(
  fields: ReadonlyMap<string, string>,
  fileSize: number,
  bucket: string,
  secretOf: (accessKeyId: string) => string | undefined,
  now = new Date(),
): PolicyFailure | undefined {
  const policy = fields.get('policy');
  if (policy === undefined) return fail(403, 'AccessDenied', 'Access Denied');
  const credential = fields.get('x-amz-credential');
  const signature = fields.get('x-amz-signature');
  if (
    fields.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256' ||
    !credential ||
    !signature ||
    !fields.get('x-amz-date')
  )
    return fail(
      400,
      'InvalidArgument',
      'Bucket POST must contain the fields x-amz-algorithm (AWS4-HMAC-SHA256), x-amz-credential, x-amz-date and x-amz-signature',
    );
  const accessKeyId = credential.split('/')[0] ?? '';
  const secret = secretOf(accessKeyId);
  if (secret === undefined)
    return fail(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  if (policySignature(policy, secret, credential) !== signature)
    return fail(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  let parsed: { expiration?: unknown; conditions?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(policy, 'base64').toString('utf8'));
  } catch {
    return fail(400, 'InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
  }
  const expiration = typeof parsed?.expiration === 'string' ? Date.parse(parsed.expiration) : Number.NaN;
  if (Number.isNaN(expiration) || !Array.isArray(parsed.conditions))
    return fail(400, 'InvalidPolicyDocument', 'Invalid Policy: expiration and conditions are required.');
  if (expiration <= now.getTime()) return denied('Policy expired.');

  const named = new Set<string>();
  const value = (field: string) => (field === 'bucket' ? bucket : (fields.get(field) ?? ''));
  for (const condition of parsed.conditions as PolicyCondition[]) {
    if (Array.isArray(condition)) {
      const [op, a, b] = condition;
      if (op === 'content-length-range') {
        if (fileSize < Number(a))
          return fail(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size');
        if (fileSize > Number(b))
          return fail(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
        continue;
      }
      if ((op !== 'eq' && op !== 'starts-with') || typeof a !== 'string' || !a.startsWith('$'))
        return fail(
          400,
          'InvalidPolicyDocument',
          `Invalid Policy: Invalid Condition: ${JSON.stringify(condition)}`,
        );
      const field = a.slice(1).toLowerCase();
      named.add(field);
      const actual = value(field);
      const holds = op === 'eq' ? actual === String(b) : actual.startsWith(String(b));
      if (!holds) return denied(`Policy Condition failed: ${JSON.stringify(condition)}`);
    } else if (condition && typeof condition === 'object') {
      for (const [name, expected] of Object.entries(condition)) {
        const field = name.toLowerCase();
        named.add(field);
        if (value(field) !== String(expected))
          return denied(`Policy Condition failed: ${JSON.stringify(['eq', `$${name}`, expected])}`);
      }
    } else return fail(400, 'InvalidPolicyDocument', 'Invalid Policy: Invalid Condition.');
  }
  const extra = [...fields.keys()].filter(
    (f) => !EXEMPT.has(f) && !f.startsWith('x-ignore-') && !named.has(f),
  );
  if (extra.length > 0) return denied(`Extra input fields: ${extra.join(', ')}`);
  return undefined;
}
