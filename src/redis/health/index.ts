// What the service learns from Redis about Redis: whether it may evict jobs (eviction-policy), whether it
// is nearly full (memory-gate), and whether it came back without its data (data-marker).

export { checkEvictionPolicy, evictionProblem, readEvictionPolicy, REQUIRED_POLICY, type PolicyVerdict } from './eviction-policy';
export { memoryProblem, RedisMemoryGate, type MemoryGateSettings, type MemoryReading } from './memory-gate';
export { DATA_LOST_MESSAGE, markerKey, RedisDataWatch } from './data-marker';
export { refuseEvictingRedis, superviseRedis, type RedisSupervision } from './supervise';
