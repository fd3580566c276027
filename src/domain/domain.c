/* domain.c - decide and evolve (being written). */
#include "domain/domain.h"
