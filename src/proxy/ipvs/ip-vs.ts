/**
 * IPVS constants shared by the service table and the schedulers, as the kernel keeps them
 * in one header (include/uapi/linux/ip_vs.h): the schedulers read a service's flags, the
 * table stores them, and neither needs the other's code for that.
 */

/** IP_VS_SVC_F_* flags as the kernel and ipvsadm use them. */
export const SVC_F_PERSISTENT = 0x1;
export const SVC_F_HASHED = 0x2;
export const SVC_F_ONEPACKET = 0x4;
/** sh-fallback / mh-fallback. */
export const SVC_F_SCHED1 = 0x8;
/** sh-port / mh-port (kube-proxy's FlagSourceHash = 0x10, set for `mh`). */
export const SVC_F_SCHED2 = 0x10;
export const SVC_F_SCHED3 = 0x20;
