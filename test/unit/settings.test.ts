import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../../services/settings.ts';

describe('settings from the environment and flags', () => {
  it('names the setting and the value given when a number is none', () => {
    expect(() => readSettings([], { HTTP_PORT: 'abc' })).toThrow(new SettingsError('HTTP_PORT: expected a number, got "abc"'));
    expect(() => readSettings(['--api-rate-limit', 'lots'], {})).toThrow(new SettingsError('API_RATE_LIMIT: expected a number, got "lots"'));
  });

  it("says zod's words for the rest: a number out of range, a word not among the choices", () => {
    expect(() => readSettings([], { HTTP_PORT: '70000' })).toThrow(/^HTTP_PORT: Too big/);
    expect(() => readSettings([], { SIMULATORS: 'maybe' })).toThrow(/^SIMULATORS: Invalid option: expected one of "on"\|"off"$/);
  });

  it('takes numbers as given', () => {
    expect(readSettings(['--http-port', '3001'], { MQTT_PORT: '1884' })).toMatchObject({ HTTP_PORT: 3001, MQTT_PORT: 1884 });
  });
});
