// Package gitserver runs real Git servers on loopback for tests: the Debian `git http-backend`
// behind Go's net/http/cgi (Basic auth checked in Go, optional TLS with a throwaway CA), and an SSH
// server built on golang.org/x/crypto/ssh that executes the real git-upload-pack and
// git-receive-pack. Both serve bare repositories from a directory of their own or the caller's.
//
// Every git process the servers start runs with an environment isolated from the machine: HOME
// inside the server's temporary directory, no system or global configuration, and only the
// server-side configuration listed in DefaultServerConfig plus what the caller adds.
//
// Constructors taking a TB (NewHTTP, NewSSH) register a cleanup that stops the server and
// removes its files; StartHTTP and StartSSH return errors instead and leave Close to the caller.
package gitserver
