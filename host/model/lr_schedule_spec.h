#pragma once
// Learning-rate schedules in words: the one readable form the CLI takes and
// the model description stores, e.g.
//   exponential:decay_steps=10000,decay_rate=0.1,staircase
//   piecewise:boundaries=1000/2000,values=0.1/0.01/0.001
//   plateau:factor=0.5,patience=5
// parsed into math::LrSchedule (host/math/lr_schedule.h, the formulas) and
// printed back (text round-trips bit for bit: each float is written as the
// shortest text that reads back as it). Reduce-on-plateau's running state (best validation
// loss, epochs without improvement, cooldown left) travels beside it.
#include <cstdint>
#include <limits>
#include <string>

#include "host/math/lr_schedule.h"

namespace graft {

// "constant", "exponential", "piecewise", "inverse_time", "natural_exp",
// "polynomial", "cosine", "plateau".
const char* lr_schedule_name(math::LrScheduleKind kind);

// Throws graft::Error in one line naming the parameter and what it must be
// ("lr schedule exponential: decay_rate must be a positive number, not -1").
math::LrSchedule parse_lr_schedule(const std::string& text);
// The inverse: parse_lr_schedule(lr_schedule_text(s)) has the same settings.
std::string lr_schedule_text(const math::LrSchedule& s);
// The same checks parse_lr_schedule makes, on a value built in code.
void validate_lr_schedule(const math::LrSchedule& s);
// The settings are the same (plateau's state is not a setting).
bool same_lr_schedule(const math::LrSchedule& a, const math::LrSchedule& b);

// Every schedule with its parameters and defaults, one per line (--help).
std::string lr_schedule_help();

// Reduce on plateau's state between epochs (Keras ReduceLROnPlateau).
struct PlateauState {
  double best = std::numeric_limits<double>::infinity();  // lowest validation loss so far
  int wait = 0;           // epochs since it was last beaten by min_delta
  int cooldown_left = 0;  // epochs left in which no reduction happens
};

// One epoch's validation loss: updates `state` and returns the learning rate
// of the next epoch, as ReduceLROnPlateau.on_epoch_end (mode min, relative
// to best - min_delta): after `patience` epochs without improvement the rate
// becomes max(lr * factor, min_lr) (not below min_lr; unchanged at min_lr)
// and the cooldown starts.
float plateau_step(const math::LrSchedule& s, PlateauState& state, double validation_loss, float lr);

}  // namespace graft
