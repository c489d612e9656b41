// Types of sensor-role.js (plain JavaScript, served to the console page as it is).

export interface SensorTopics {
  readonly data: string;
  readonly config: string;
  readonly status: string;
}

export interface RoleAcl {
  readonly acltype: 'publishClientSend' | 'publishClientReceive' | 'subscribeLiteral';
  readonly topic: string;
  readonly allow: boolean;
  readonly priority: number;
}

export interface ControlMessage {
  readonly commands: readonly { readonly command: string; readonly correlationData: string; readonly [field: string]: unknown }[];
}

export declare const ALL_SENSORS: 'all';
export declare function sensorIdProblem(id: string): string | undefined;
export declare const SENSOR_ROLE_PREFIX: 'sensor:';
export declare function sensorRoleName(id: string): string;
export declare function sensorRoleAcls(topics: SensorTopics, id: string): RoleAcl[];
export declare function addSensorSteps(sensor: { topics: SensorTopics; id: string; username: string; password: string; tag: string }): {
  role: ControlMessage;
  client: ControlMessage;
  rollback: ControlMessage;
};
export declare function sensorsIn(data: unknown): { id: string; username: string; disabled: boolean }[];
