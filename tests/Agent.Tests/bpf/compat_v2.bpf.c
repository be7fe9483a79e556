// SPDX-License-Identifier: GPL-2.0
// v2 of the compat_state map: same name and sizes, fields swapped (see compat.h).
#define COMPAT_V2 1
#include "compat.h"
