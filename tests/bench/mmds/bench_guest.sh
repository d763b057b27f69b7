# In-guest side of mmds_bench.sh (installed as /etc/ember-test): GETs one metadata value from the
# server named by mmds_bench=IP:PORT on the kernel command line, over new connections.
target=$(sed -n 's/.*mmds_bench=\([^ ]*\).*/\1/p' /proc/cmdline)
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0
ip route add 169.254.169.254 dev eth0
/sbin/guestbench httpget "${target%:*}" "${target#*:}" /latest/meta-data/instance-id 300
