// Everything in Cairn's optim layer: optimizers, gradient clipping, learning-rate schedules, factories.
#pragma once
#include "cairn/optim/clip.h"
#include "cairn/optim/ema.h"
#include "cairn/optim/factory.h"
#include "cairn/optim/optimizer.h"
#include "cairn/optim/optimizers.h"
#include "cairn/optim/schedules.h"
