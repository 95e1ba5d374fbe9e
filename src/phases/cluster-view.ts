// The names the day-2 commands (rolling, snapshot, down, rebootstrap, defrag, compact, recover-space) have always
// read the cluster by: one observation (observe/cluster.ts), seen as the list of members those commands plan from.

export {
  compareVersions,
  observeCluster,
  snapshotSource,
  type ClusterObservation as ClusterView,
  type MemberObservation as MemberView,
} from '../observe/cluster.js';
