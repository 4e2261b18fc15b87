# Differential scenarios: /etc/hosts, /etc/hostname, /etc/resolv.conf.

### etc-hosts-none
docker run --rm --net none busybox cat /etc/hosts

### etc-hosts-add-host
docker run --rm --net none --add-host db:10.0.0.5 --add-host 'v6:fd00::1' busybox cat /etc/hosts

### etc-hosts-hostname-none
docker run --rm --net none -h named busybox cat /etc/hosts

### etc-hostname-default
docker run --rm --net none busybox sh -c 'cat /etc/hostname; hostname'

### etc-hostname-flag
docker run --rm --net none --hostname flag-host busybox cat /etc/hostname

### etc-resolv-none
docker run --rm --net none busybox cat /etc/resolv.conf

### etc-resolv-dns-flags
#: known Docker 20.10 writes 'search' before 'nameserver'; Dockyard writes nameservers first as moby 25+ does, but without moby 25+'s comment header and footer
docker run --rm --net none --dns 192.0.2.1 --dns-search example.com --dns-option ndots:2 busybox cat /etc/resolv.conf

### etc-files-are-mounts
docker run --rm --net none busybox sh -c 'grep -E " /etc/(hosts|hostname|resolv.conf) " /proc/mounts | cut -d" " -f2 | sort'

### etc-hosts-writable
docker run --rm --net none busybox sh -c 'echo "1.2.3.4 extra" >> /etc/hosts && tail -1 /etc/hosts'

### etc-hosts-read-only-rootfs
docker run --rm --net none --read-only busybox sh -c 'echo x 2>/dev/null >> /etc/hosts; echo $?'

### etc-hostname-too-long
#: known Dockyard refuses a hostname over 64 bytes at create with its own message (issue 13); Docker fails at start in runc (sethostname: invalid argument); both exit 125
docker run --rm --net none -h aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa busybox hostname; echo "exit $?"

### etc-hosts-persist-restart
docker run --name dtest-eh --net none busybox sh -c 'echo "5.5.5.5 mine" >> /etc/hosts'
docker start -a dtest-eh
docker run --rm --net none busybox true
docker cp dtest-eh:/etc/hosts - | tar -xO | tail -2
docker rm dtest-eh >/dev/null

### etc-add-host-bad
#: modern the docker CLI 28's flag error ends with the usage line and 'Run ... for more information' (20.10: "See 'docker run --help'.")
#= invalid argument "nohostip" for "--add-host" flag: bad format for add-host: "nohostip"
#=
#= Usage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]
#=
#= Run 'docker run --help' for more information
#= exit 125
docker run --rm --net none --add-host nohostip busybox true; echo "exit $?"

### etc-dns-bad
#: modern the docker CLI 28 says 'IP address is not correctly formatted' (opts.ValidateIPAddress), its flag error ends with the usage line (20.10: 'not-an-ip is not an ip address', "See 'docker run --help'.")
#= invalid argument "not-an-ip" for "--dns" flag: IP address is not correctly formatted: not-an-ip
#=
#= Usage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]
#=
#= Run 'docker run --help' for more information
#= exit 125
docker run --rm --net none --dns not-an-ip busybox true; echo "exit $?"
