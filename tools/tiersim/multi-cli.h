/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-tiersim --multi: the multi-tenant mode's command line (argv[0] is "--multi"). */
#pragma once

/* Returns the exit status: 0 ok, 1 failure, 2 usage error. */
int multi_main(int argc, char **argv);
