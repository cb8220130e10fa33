#include "physics/pspin.hpp"
