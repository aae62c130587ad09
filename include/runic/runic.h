// Everything a user of the Runic store needs, in one include.
#ifndef RUNIC_RUNIC_H_
#define RUNIC_RUNIC_H_

#include "runic/database.h"
#include "runic/event_iterator.h"
#include "runic/options.h"
#include "runic/result.h"
#include "runic/status.h"
#include "runic/store.h"
#include "runic/telemetry.h"

#endif  // RUNIC_RUNIC_H_
