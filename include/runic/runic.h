// Everything a user of Runic needs, in one include: the store and the Runner.
#ifndef RUNIC_RUNIC_H_
#define RUNIC_RUNIC_H_

#include "runic/clock.h"
#include "runic/database.h"
#include "runic/event_iterator.h"
#include "runic/gc.h"
#include "runic/history.h"
#include "runic/inbox.h"
#include "runic/options.h"
#include "runic/result.h"
#include "runic/runner.h"
#include "runic/status.h"
#include "runic/store.h"
#include "runic/telemetry.h"
#include "runic/workflow.h"

#endif  // RUNIC_RUNIC_H_
