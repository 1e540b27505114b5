export type { KmsProvider } from './kms.js';
export { LocalKms, MASTER_KEY_FILE } from './local-kms.js';
export { AwsKms, type AwsKmsOptions, type AwsKmsCredentials } from './aws-kms.js';
export { openKms, type OpenKmsOptions } from './open-kms.js';
