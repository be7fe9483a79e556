// SPDX-License-Identifier: GPL-2.0
// v1 of the compat_state map (see compat.h).
#include "compat.h"
