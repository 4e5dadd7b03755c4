// Everything in Cairn's nn layer: modules, layers, Sequential, losses, initialisers, summaries, weights files.
#pragma once
#include "cairn/core/core.h"
#include "cairn/nn/activations.h"
#include "cairn/nn/init.h"
#include "cairn/nn/layers_conv.h"
#include "cairn/nn/layers_core.h"
#include "cairn/nn/layers_merge.h"
#include "cairn/nn/layers_norm.h"
#include "cairn/nn/losses.h"
#include "cairn/nn/module.h"
#include "cairn/nn/sequential.h"
#include "cairn/nn/summary.h"
#include "cairn/nn/weights_io.h"
