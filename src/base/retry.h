/* base/retry.h: the one retry policy (exponential backoff with full
 * jitter), shared by every caller that retries: the engine's batch loop,
 * connecting, a source's reads. Tunable for tests through SLUICE_RETRIES
 * (attempts, default 6) and SLUICE_RETRY_BASE_MS (first pause, default
 * 500 ms; doubled each attempt, at most 30 s). */
#ifndef SL_RETRY_H
#define SL_RETRY_H

int sl_retry_attempts(void);
/* Sleep before attempt `attempt` + 1: base * 2^(attempt-1), at most 30 s,
 * drawn from [half, whole] so loaders that failed together do not retry in
 * step. Thread-safe (each thread draws from its own generator). */
void sl_retry_sleep(int attempt);

#endif
