/* obs/observer.h: the observer the engine reports to (engine/observer.h),
 * made of this layer's metrics, alert webhooks and progress line. The CLI
 * installs it (sl_observe(&sl_obs_observer)) before it runs the engine. */
#ifndef SL_OBS_OBSERVER_H
#define SL_OBS_OBSERVER_H

#include "engine/observer.h"

extern const struct sl_observer sl_obs_observer;

#endif
