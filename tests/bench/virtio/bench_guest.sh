# In-guest side of virtio_bench.sh (installed as /etc/ember-test). The data drive is the 256 MiB
# disk, whichever name it got; the sandbox listens on 172.16.0.1:5001 (to receive) and 5002 (to
# send 64 MiB).
data=""
for d in /sys/block/vd*; do [ "$(cat "$d/size")" = 524288 ] && data=/dev/${d##*/}; done
echo "BENCH data_drive=$data"
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0
/sbin/guestbench seqwrite "$data" 128
/sbin/guestbench seqread "$data" 128
/sbin/guestbench randread "$data" 8
/sbin/guestbench randread "$data" 8 8
/sbin/guestbench tcpsend 172.16.0.1 5001 64
/sbin/guestbench tcprecv 172.16.0.1 5002 64
