// Symbol visibility for the runic shared library. The library is built with
// -fvisibility=hidden; only declarations marked RUNIC_EXPORT are part of the
// ABI that librunic.so exports.
#ifndef RUNIC_EXPORT_H_
#define RUNIC_EXPORT_H_

#if defined(RUNIC_BUILDING_LIBRARY)
#define RUNIC_EXPORT [[gnu::visibility("default")]]
#else
#define RUNIC_EXPORT
#endif

#endif  // RUNIC_EXPORT_H_
