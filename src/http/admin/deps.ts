import type { Metrics } from '../../observability/metrics.js';
import type { Authenticator } from '../../auth/verify.js';

/** What the admin listener hands its route groups besides the Context. Its own module so route groups never import the listener that registers them. */
export interface AdminDeps {
  metrics: Metrics;
  authenticator: Authenticator;
}
