import { QsError } from '../../protocol/errors.js';
import { AwsKms } from './aws-kms.js';
import type { KmsProvider } from './kms.js';
import { LocalKms } from './local-kms.js';

export interface OpenKmsOptions {
  /** Where the local provider keeps `master.key`. */
  dataDir: string;
  /** Endpoint override for the aws provider (VPC endpoint, or a stand-in in tests). */
  awsEndpoint?: string;
}

/**
 * Opens the KMS named by `spec`: `local` (master key file in dataDir) or `aws:<key ARN>`.
 * The aws provider uses the SDK's default credential chain and the ARN's region.
 */
export async function openKms(spec: string, opts: OpenKmsOptions): Promise<KmsProvider> {
  if (spec === 'local') return LocalKms.open(opts.dataDir);
  if (spec.startsWith('aws:')) {
    const keyArn = spec.slice('aws:'.length);
    if (!keyArn.startsWith('arn:')) throw new QsError('QS_CONFIG', 'the KMS spec must be aws:<key ARN>, e.g. aws:arn:aws:kms:eu-west-1:123456789012:key/…');
    return new AwsKms({ keyArn, ...(opts.awsEndpoint !== undefined ? { endpoint: opts.awsEndpoint } : {}) });
  }
  throw new QsError('QS_CONFIG', `unknown KMS spec ${JSON.stringify(spec)}: use local or aws:<key ARN>`);
}
