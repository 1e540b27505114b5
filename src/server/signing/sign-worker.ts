/**
 * The piscina worker that runs ML-DSA-65 signing and ML-KEM-768 encapsulation off the event loop
 * (DESIGN §8). It loads the very backend the main thread chose, by its exact build, so both
 * threads produce the same bytes; the main thread checks the name and build it reports on the
 * probe task.
 */
import type { BackendBuild, BackendName, CryptoBackend } from '../../crypto/backend.js';
import { getCryptoBackend, setCryptoBackend, type BackendChoice } from '../../crypto/select-backend.js';

/** One unit of work; `choice` rides along on every task so a worker needs no set-up message. */
export type SignTask =
  | { op: 'probe'; choice: BackendChoice }
  | { op: 'sign'; choice: BackendChoice; seed: Uint8Array; message: Uint8Array }
  | { op: 'encapsulate'; choice: BackendChoice; publicKey: Uint8Array };

export type SignTaskResult =
  | { op: 'probe'; backend: BackendName; build: BackendBuild; detail: string }
  | { op: 'sign'; signature: Uint8Array }
  | { op: 'encapsulate'; cipherText: Uint8Array; sharedSecret: Uint8Array };

let loaded: BackendChoice | undefined;

function backendFor(choice: BackendChoice): CryptoBackend {
  if (loaded !== choice) {
    // setCryptoBackend runs the start-up self-test against noble, here as on the main thread.
    setCryptoBackend(choice);
    loaded = choice;
  }
  return getCryptoBackend();
}

/** piscina calls the default export once per task. */
export default function runSignTask(task: SignTask): SignTaskResult {
  const backend = backendFor(task.choice);
  switch (task.op) {
    case 'probe':
      return { op: 'probe', backend: backend.name, build: backend.build, detail: backend.detail };
    case 'sign':
      return { op: 'sign', signature: backend.dsaSign(task.seed, task.message) };
    case 'encapsulate': {
      const { cipherText, sharedSecret } = backend.kemEncapsulate(task.publicKey);
      return { op: 'encapsulate', cipherText, sharedSecret };
    }
  }
}
