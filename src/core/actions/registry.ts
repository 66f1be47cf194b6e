// Every action by key. Typed so that a missing or misspelt action fails to compile.

import { createUpdateDevice } from './createUpdateDevice';
import { createUpdateObject } from './createUpdateObject';
import { createUpdatePerson } from './createUpdatePerson';
import { deleteDevice } from './deleteDevice';
import { deleteObject } from './deleteObject';
import { deletePerson } from './deletePerson';
import { deleteRelationship } from './deleteRelationship';
import { mergePeople } from './mergePeople';
import { reportContentEvent } from './reportContentEvent';
import { reportDeliveryEvent } from './reportDeliveryEvent';
import { suppressPerson } from './suppressPerson';
import { trackEvent } from './trackEvent';
import { trackPageView } from './trackPageView';
import { trackScreenView } from './trackScreenView';
import { unsuppressPerson } from './unsuppressPerson';
import type { ActionRegistry } from './types';

export const ACTIONS: ActionRegistry = {
  createUpdatePerson,
  trackEvent,
  createUpdateDevice,
  trackPageView,
  deleteDevice,
  trackScreenView,
  createUpdateObject,
  deleteRelationship,
  unsuppressPerson,
  mergePeople,
  deleteObject,
  suppressPerson,
  deletePerson,
  reportDeliveryEvent,
  reportContentEvent,
};
