// The MMDS tests step the project's FakeClock by hand.
#pragma once

#include "tests/fakes/fake_clock.h"

namespace ember::mmds {

using FakeClock = ember::testing::FakeClock;

}  // namespace ember::mmds
